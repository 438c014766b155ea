/* FFmpeg's libraries, loaded on the first non-Ogg input (dlopen), not at
 * start-up: linked directly they pull in ~110 shared objects and cost every
 * opusarc process ~30 ms before main, for inputs most runs never see.
 * Internal to avdemux.c and avimport.c: include after FFmpeg's headers;
 * calls to the functions listed below then go through the loaded table. */
#ifndef OPUSARC_AVLIB_H
#define OPUSARC_AVLIB_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>

#include "opusarc/error.h"

#define OA_AV_FUNCTIONS(X)                                                                                       \
  X(av_dict_get) X(av_find_best_stream) X(av_get_media_type_string) X(av_log_set_level) X(av_packet_alloc)      \
  X(av_packet_free) X(av_packet_get_side_data) X(av_packet_unref) X(av_read_frame) X(av_strerror)              \
  X(avcodec_get_name) X(avformat_close_input) X(avformat_find_stream_info) X(avformat_open_input) X(avio_size) \
  X(av_frame_alloc) X(av_frame_free) X(av_frame_unref) X(av_get_packed_sample_fmt) X(av_sample_fmt_is_planar)  \
  X(avcodec_alloc_context3) X(avcodec_descriptor_get) X(avcodec_free_context) X(avcodec_open2)                 \
  X(avcodec_parameters_to_context) X(avcodec_receive_frame) X(avcodec_send_packet) X(avcodec_find_decoder)

typedef struct oa_avlib {
#define OA_AV_POINTER(f) __typeof__(f) *f;
  OA_AV_FUNCTIONS(OA_AV_POINTER)
#undef OA_AV_POINTER
} oa_avlib;

/* Loads the libraries once per process (thread-safe); OA_OK, or an error
 * naming the library that is missing. Call before any function below. */
int oa_avlib_load(oa_err *err);
/* The table; only after oa_avlib_load succeeded. */
const oa_avlib *oa_avlib_get(void);

#ifndef OA_AVLIB_IMPL
#define OA_AV_REDIRECT(f) (oa_avlib_get()->f)
#define av_dict_get OA_AV_REDIRECT(av_dict_get)
#define av_find_best_stream OA_AV_REDIRECT(av_find_best_stream)
#define av_get_media_type_string OA_AV_REDIRECT(av_get_media_type_string)
#define av_log_set_level OA_AV_REDIRECT(av_log_set_level)
#define av_packet_alloc OA_AV_REDIRECT(av_packet_alloc)
#define av_packet_free OA_AV_REDIRECT(av_packet_free)
#define av_packet_get_side_data OA_AV_REDIRECT(av_packet_get_side_data)
#define av_packet_unref OA_AV_REDIRECT(av_packet_unref)
#define av_read_frame OA_AV_REDIRECT(av_read_frame)
#define av_strerror OA_AV_REDIRECT(av_strerror)
#define avcodec_get_name OA_AV_REDIRECT(avcodec_get_name)
#define avformat_close_input OA_AV_REDIRECT(avformat_close_input)
#define avformat_find_stream_info OA_AV_REDIRECT(avformat_find_stream_info)
#define avformat_open_input OA_AV_REDIRECT(avformat_open_input)
#define avio_size OA_AV_REDIRECT(avio_size)
#define av_frame_alloc OA_AV_REDIRECT(av_frame_alloc)
#define av_frame_free OA_AV_REDIRECT(av_frame_free)
#define av_frame_unref OA_AV_REDIRECT(av_frame_unref)
#define av_get_packed_sample_fmt OA_AV_REDIRECT(av_get_packed_sample_fmt)
#define av_sample_fmt_is_planar OA_AV_REDIRECT(av_sample_fmt_is_planar)
#define avcodec_alloc_context3 OA_AV_REDIRECT(avcodec_alloc_context3)
#define avcodec_descriptor_get OA_AV_REDIRECT(avcodec_descriptor_get)
#define avcodec_free_context OA_AV_REDIRECT(avcodec_free_context)
#define avcodec_open2 OA_AV_REDIRECT(avcodec_open2)
#define avcodec_parameters_to_context OA_AV_REDIRECT(avcodec_parameters_to_context)
#define avcodec_receive_frame OA_AV_REDIRECT(avcodec_receive_frame)
#define avcodec_send_packet OA_AV_REDIRECT(avcodec_send_packet)
#define avcodec_find_decoder OA_AV_REDIRECT(avcodec_find_decoder)
#endif

#endif
