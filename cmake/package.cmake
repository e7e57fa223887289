# cmake/package.cmake — pkg-config file and CMake package of the installed library.
# Included from the top-level CMakeLists.txt after the library targets exist.
include(CMakePackageConfigHelpers)

set(TG_PC_CFLAGS "")
set(TG_PC_LIBS_PRIVATE "")
if(TG_DOUBLE)
  set(TG_PC_CFLAGS " -DTG_DOUBLE=1")
endif()
set(TG_PACKAGE_NEEDS_MPI 0)
if(TG_WITH_MPI AND MPI_C_FOUND)
  set(TG_PACKAGE_NEEDS_MPI 1)
  foreach(lib ${MPI_C_LIBRARIES})
    string(APPEND TG_PC_LIBS_PRIVATE " ${lib}")
  endforeach()
endif()
# from <prefix>/<libdir>/pkgconfig back up to <prefix>
string(REGEX REPLACE "[^/]+" ".." TG_PC_UP "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
configure_file(${PROJECT_SOURCE_DIR}/cmake/terragrad.pc.in ${PROJECT_BINARY_DIR}/${TG_LIB_NAME}.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/${TG_LIB_NAME}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(TG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/terragrad)
install(EXPORT terragrad-${TG_REAL}-targets NAMESPACE terragrad:: DESTINATION ${TG_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/terragradConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/terragradConfig.cmake INSTALL_DESTINATION ${TG_CMAKE_DIR})
# 0.x: a minor version may change the API, so only the same major.minor is compatible
write_basic_package_version_file(${PROJECT_BINARY_DIR}/terragradConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/terragradConfig.cmake ${PROJECT_BINARY_DIR}/terragradConfigVersion.cmake
        DESTINATION ${TG_CMAKE_DIR})
