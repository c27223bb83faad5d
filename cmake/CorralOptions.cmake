# Warnings and sanitizers applied to every Corral target through corral_options.
add_library(corral_options INTERFACE)
target_compile_options(corral_options INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wformat=2 -Wimplicit-fallthrough)
if(CORRAL_WERROR)
  target_compile_options(corral_options INTERFACE -Werror)
endif()
set(_corral_san "")
if(CORRAL_ASAN)
  list(APPEND _corral_san address)
endif()
if(CORRAL_UBSAN)
  list(APPEND _corral_san undefined)
endif()
if(_corral_san)
  list(JOIN _corral_san "," _corral_san_list)
  target_compile_options(corral_options INTERFACE -fsanitize=${_corral_san_list}
    -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(corral_options INTERFACE -fsanitize=${_corral_san_list})
endif()
# Fuzzing: instrument every project library for coverage (the fuzz targets add -fsanitize=fuzzer).
if(CORRAL_FUZZ)
  target_compile_options(corral_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-omit-frame-pointer)
  target_link_options(corral_options INTERFACE -fsanitize=address,undefined)
endif()
