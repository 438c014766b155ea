#!/usr/bin/env bash
# Installs what opusarc needs to build, run and test on Debian 12 (as root,
# or through sudo when run by another user).
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config \
  libopus-dev libogg-dev libopusfile-dev libsndfile1-dev libsoxr-dev zlib1g-dev \
  libavformat-dev libavcodec-dev libavutil-dev ffmpeg \
  libhdf5-openmpi-dev hdf5-tools openmpi-bin libopenmpi-dev \
  libcmocka-dev clang libclang-rt-14-dev ca-certificates jq \
  slurm-wlm munge gnuplot-nox sox python3 python3-numpy python3-h5py \
  python3-pytest python3-venv python3-pip python3-setuptools python3-wheel \
  opus-tools asterisk-core-sounds-en-wav > /dev/null
echo "install-deps: done"
