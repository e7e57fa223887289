# cmake/aarch64-linux-gnu.cmake — CMake toolchain file for an arm64 (aarch64) cross build with
# Debian's gcc-aarch64-linux-gnu on an x86-64 host; scripts/cross_arm64.sh sets it up and
# uses it. Libraries come from Debian's multiarch arm64 packages (/usr/lib/aarch64-linux-gnu)
# and, for netCDF (whose -dev package cannot sit next to the host's), from the folder
# TG_CROSS_SYSROOT_EXTRA into which the script unpacks the arm64 runtime packages.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_Fortran_COMPILER aarch64-linux-gnu-gfortran)   # absent unless installed; the script builds without Fortran
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Programs from the host, libraries and headers only for the target.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must read the arm64 .pc files, never the host's.
set(_tg_pc /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
if(DEFINED ENV{TG_CROSS_SYSROOT_EXTRA})
  set(TG_CROSS_SYSROOT_EXTRA $ENV{TG_CROSS_SYSROOT_EXTRA})
endif()
if(TG_CROSS_SYSROOT_EXTRA)
  set(_tg_pc ${TG_CROSS_SYSROOT_EXTRA}/pkgconfig:${_tg_pc})
  # the unpacked libraries' own dependencies (hdf5, curl, ...) are found at link time here
  string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT
         " -Wl,-rpath-link,${TG_CROSS_SYSROOT_EXTRA}/usr/lib/aarch64-linux-gnu"
         " -Wl,-rpath-link,${TG_CROSS_SYSROOT_EXTRA}/lib/aarch64-linux-gnu")
endif()
set(ENV{PKG_CONFIG_LIBDIR} ${_tg_pc})
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
