# cmake/package.cmake — pkg-config files and CMake package of the installed libraries.
# Included from the top-level CMakeLists.txt after the library targets exist.
include(CMakePackageConfigHelpers)

# Two .pc files: terragrad[-double].pc (the engine) and terragrad-hydro[-double].pc, whose
# Requires names the engine's, so `pkg-config --libs terragrad-hydro` gives both libraries.
set(TG_PC_CFLAGS "")
if(TG_DOUBLE)
  set(TG_PC_CFLAGS " -DTG_DOUBLE=1")   # the engine's .pc carries it; hydro's gets it via Requires
endif()
set(TG_PACKAGE_NEEDS_MPI 0)
set(TG_HYDRO_PC_LIBS_PRIVATE "")
if(TG_WITH_MPI AND MPI_C_FOUND)
  set(TG_PACKAGE_NEEDS_MPI 1)
  foreach(lib ${MPI_C_LIBRARIES})
    string(APPEND TG_HYDRO_PC_LIBS_PRIVATE " ${lib}")
  endforeach()
endif()
# from <prefix>/<libdir>/pkgconfig back up to <prefix>
string(REGEX REPLACE "[^/]+" ".." TG_PC_UP "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

set(TG_PC_NAME ${TG_LIB_NAME})
set(TG_PC_DESCRIPTION "Differentiable modelling for the geosciences: the engine")
set(TG_PC_REQUIRES "")
set(TG_PC_REQUIRES_PRIVATE "openblas")
set(TG_PC_LIBS_PRIVATE "")
configure_file(${PROJECT_SOURCE_DIR}/cmake/terragrad.pc.in ${PROJECT_BINARY_DIR}/${TG_LIB_NAME}.pc @ONLY)

set(TG_PC_NAME ${TG_HYDRO_LIB_NAME})
set(TG_PC_DESCRIPTION "terragrad hydrology: data, configs, training, evaluation, calibration")
set(TG_PC_REQUIRES "${TG_LIB_NAME} = ${PROJECT_VERSION}")
set(TG_PC_REQUIRES_PRIVATE "netcdf yaml-0.1")
set(TG_PC_LIBS_PRIVATE "${TG_HYDRO_PC_LIBS_PRIVATE}")
set(TG_PC_CFLAGS_SAVED "${TG_PC_CFLAGS}")
set(TG_PC_CFLAGS "")
configure_file(${PROJECT_SOURCE_DIR}/cmake/terragrad.pc.in ${PROJECT_BINARY_DIR}/${TG_HYDRO_LIB_NAME}.pc @ONLY)
set(TG_PC_CFLAGS "${TG_PC_CFLAGS_SAVED}")
install(FILES ${PROJECT_BINARY_DIR}/${TG_LIB_NAME}.pc ${PROJECT_BINARY_DIR}/${TG_HYDRO_LIB_NAME}.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(TG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/terragrad)
install(EXPORT terragrad-${TG_REAL}-targets NAMESPACE terragrad:: DESTINATION ${TG_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/terragradConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/terragradConfig.cmake INSTALL_DESTINATION ${TG_CMAKE_DIR})
# 0.x: a minor version may change the API, so only the same major.minor is compatible
write_basic_package_version_file(${PROJECT_BINARY_DIR}/terragradConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/terragradConfig.cmake ${PROJECT_BINARY_DIR}/terragradConfigVersion.cmake
        DESTINATION ${TG_CMAKE_DIR})
