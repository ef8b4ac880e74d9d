# Cross-compile runtimes/native for linux-aarch64 with Debian's g++-aarch64-linux-gnu
# (run under qemu-aarch64-static; see runtimes/arm64/toolchain.py).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
