# One block per benchmark binary.
rampart_bench(engine_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/engine_bench.cc DEPS rampart_engine)
rampart_bench(schema_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/schema_bench.cc DEPS rampart_schema)
target_compile_definitions(schema_bench PRIVATE RAMPART_BENCH_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data")
rampart_bench(expr_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/expr_bench.cc DEPS rampart_expr)
rampart_bench(store_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/store_bench.cc DEPS rampart_store)
rampart_bench(redact_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/redact_bench.cc DEPS rampart_redact)
rampart_bench(keyring_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/keyring_bench.cc DEPS rampart_crypto)
rampart_bench(http_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http_bench.cc DEPS rampart_net rampart_server OpenSSL::Crypto)
