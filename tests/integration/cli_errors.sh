echo cli_errors todo; exit 0
