# One block per benchmark binary.
rampart_bench(engine_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/engine_bench.cc DEPS rampart_engine)
