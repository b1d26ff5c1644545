# Sanitizer builds (make test-asan, make test-tsan) and the libFuzzer harnesses (make fuzz).
#
#   -DDERIVED_SANITIZE=address   everything built with ASan + UBSan (GCC or clang)
#   -DDERIVED_SANITIZE=thread    everything built with TSan
#   -DDERIVED_FUZZ=ON            only the harnesses in fuzz/ (needs clang++ for libFuzzer)
#
# DuckDB and the Debian libraries stay uninstrumented: see fuzz/README.md for what that
# means for each sanitizer.

set(DERIVED_SANITIZE "" CACHE STRING "Build with sanitizers: address (ASan+UBSan) or thread (TSan)")
set_property(CACHE DERIVED_SANITIZE PROPERTY STRINGS "" address thread)
option(DERIVED_FUZZ "Build the libFuzzer harnesses in fuzz/ instead of Derived (clang++ only)" OFF)

# Every UBSan finding stops the program, so a test or a fuzzer cannot pass over one.
set(DERIVED_UBSAN_FLAGS -fsanitize=undefined -fno-sanitize-recover=all)

if(DERIVED_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address ${DERIVED_UBSAN_FLAGS} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address ${DERIVED_UBSAN_FLAGS})
elseif(DERIVED_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT DERIVED_SANITIZE STREQUAL "")
  message(FATAL_ERROR "DERIVED_SANITIZE must be address or thread, not '${DERIVED_SANITIZE}'")
endif()

if(DERIVED_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DERIVED_FUZZ needs clang++ (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(NOT DERIVED_SANITIZE STREQUAL "")
    message(FATAL_ERROR "DERIVED_FUZZ builds with ASan+UBSan already; leave DERIVED_SANITIZE empty")
  endif()
  # Library code gets coverage instrumentation; each harness links libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address ${DERIVED_UBSAN_FLAGS} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=fuzzer,address ${DERIVED_UBSAN_FLAGS})
endif()
