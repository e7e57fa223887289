# cmake/fortran.cmake — the example legacy model of the surrogate module (issue 8):
# fortran/bucket_model.f90 built twice,
#   ${PROJECT_BINARY_DIR}/fortran/bucket_model       executable (input file -> output file)
#   ${PROJECT_BINARY_DIR}/fortran/libtg_bucket.so    shared library exporting tg_model_run
# both reached by terragrad only through the black-box interface (include/terragrad/
# surrogate.h), never linked into the library. Included from the top-level CMakeLists.txt.
include_guard(GLOBAL)   # also safe when included twice (e.g. via CMAKE_PROJECT_INCLUDE)
include(CheckLanguage)
check_language(Fortran)
if(CMAKE_Fortran_COMPILER)
  enable_language(Fortran)
  set(TG_FORTRAN_OUT ${PROJECT_BINARY_DIR}/fortran)
  # -frecursive: locals on the stack, so the library is reentrant (called from OpenMP
  # threads). No -ffast-math and no CPU-model flags: the C re-implementation in the tests must agree.
  set(TG_FORTRAN_FLAGS -std=f2018 -fimplicit-none -frecursive -Wall -Wextra -Wno-compare-reals)
  if(TG_SANITIZE)
    list(APPEND TG_FORTRAN_FLAGS -fcheck=all)
  endif()

  add_library(tg_bucket_core OBJECT ${PROJECT_SOURCE_DIR}/fortran/bucket_model.f90)
  set_target_properties(tg_bucket_core PROPERTIES POSITION_INDEPENDENT_CODE ON
                        Fortran_MODULE_DIRECTORY ${TG_FORTRAN_OUT}/mod)
  target_compile_options(tg_bucket_core PRIVATE ${TG_FORTRAN_FLAGS})

  add_executable(bucket_model ${PROJECT_SOURCE_DIR}/fortran/bucket_main.f90)
  target_link_libraries(bucket_model PRIVATE tg_bucket_core)
  add_library(tg_bucket SHARED ${PROJECT_SOURCE_DIR}/fortran/bucket_capi.f90)
  target_link_libraries(tg_bucket PRIVATE tg_bucket_core)
  foreach(t bucket_model tg_bucket)
    target_include_directories(${t} PRIVATE ${TG_FORTRAN_OUT}/mod)
    target_compile_options(${t} PRIVATE ${TG_FORTRAN_FLAGS})
    set_target_properties(${t} PROPERTIES Fortran_MODULE_DIRECTORY ${TG_FORTRAN_OUT}/mod
                          RUNTIME_OUTPUT_DIRECTORY ${TG_FORTRAN_OUT}
                          LIBRARY_OUTPUT_DIRECTORY ${TG_FORTRAN_OUT})
  endforeach()
  # Tests and the CLI find the model next to the build: <build>/fortran/...
  message(STATUS "legacy Fortran model: ${TG_FORTRAN_OUT}/bucket_model, libtg_bucket.so")
else()
  message(WARNING "no Fortran compiler: the example legacy model (fortran/) is not built; "
                  "the surrogate tests that run it will fail")
endif()
