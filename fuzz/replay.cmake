# Included at the end of tests/CMakeLists.txt: the fuzz harnesses as plain programs
# (fuzz/replay.c instead of libFuzzer's main), so the normal test suite replays every
# checked-in seed and every crash regression: ctest -R fuzz.replay runs
#   replay_<name> fuzz/corpus/<name> fuzz/regressions/<name>
# for each fuzz/fuzz_<name>.c (under ASan and UBSan in the SMAR_SANITIZE build).
# Also builds fuzz-make-seeds, which regenerates the archive, key and export seeds
# (run it as: fuzz-make-seeds fuzz/corpus).
set(SMAR_FUZZ_DIR ${PROJECT_SOURCE_DIR}/fuzz)

add_library(smar_fuzz_support STATIC ${SMAR_FUZZ_DIR}/common.c ${SMAR_FUZZ_DIR}/archive_builder.c
            ${SMAR_FUZZ_DIR}/export_read.c)
target_compile_options(smar_fuzz_support PRIVATE ${SMAR_WARNINGS})
target_include_directories(smar_fuzz_support PUBLIC ${SMAR_FUZZ_DIR} ${SMAR_INTERNAL_INCLUDE_DIRS})
target_link_libraries(smar_fuzz_support PUBLIC smar_static PkgConfig::CJSON)

file(GLOB SMAR_FUZZ_HARNESSES CONFIGURE_DEPENDS ${SMAR_FUZZ_DIR}/fuzz_*.c)
foreach(src ${SMAR_FUZZ_HARNESSES})
  get_filename_component(base ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${base})
  add_executable(replay_${name} ${src} ${SMAR_FUZZ_DIR}/replay.c)
  target_compile_options(replay_${name} PRIVATE ${SMAR_WARNINGS})
  target_link_libraries(replay_${name} PRIVATE smar_fuzz_support)
  target_compile_definitions(replay_${name} PRIVATE
                             SMAR_FUZZ_VECTORS="${PROJECT_SOURCE_DIR}/spec/vectors/v2")
  if(name STREQUAL "cli") # the tool's own parsers
    target_sources(replay_${name} PRIVATE ${SMAR_CLI_CORE_SOURCES})
    target_include_directories(replay_${name} PRIVATE ${PROJECT_SOURCE_DIR}/tools)
  endif()
  add_test(NAME fuzz.replay.${name}
           COMMAND replay_${name} ${SMAR_FUZZ_DIR}/corpus/${name} ${SMAR_FUZZ_DIR}/regressions/${name})
  set_tests_properties(fuzz.replay.${name} PROPERTIES TIMEOUT 600)
endforeach()

add_executable(fuzz-make-seeds ${SMAR_FUZZ_DIR}/make_seeds.c)
target_compile_options(fuzz-make-seeds PRIVATE ${SMAR_WARNINGS})
target_link_libraries(fuzz-make-seeds PRIVATE smar_fuzz_support PkgConfig::ARCHIVE) # makes tar seeds
target_compile_definitions(fuzz-make-seeds PRIVATE # incremental seeds against incr-base
                           SMAR_FUZZ_VECTORS="${PROJECT_SOURCE_DIR}/spec/vectors/v2")
