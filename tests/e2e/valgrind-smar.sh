#!/bin/sh
# Run the real smar ($SMAR_REAL) under valgrind memcheck: the e2e suite's SMAR when the
# build has -DSMAR_VALGRIND=ON. Any memory error or leak makes the command exit 97, which
# no test expects, so it fails the test.
exec valgrind -q --error-exitcode=97 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --track-fds=no "$SMAR_REAL" "$@"
