# One line per fuzz target; each module's owner adds its own.
rampart_fuzz(definition SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/definition_fuzz.cc DEPS rampart_engine)
rampart_fuzz(schema SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/schema_fuzz.cc DEPS rampart_schema)
rampart_fuzz(expr SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/expr_fuzz.cc DEPS rampart_expr)
rampart_fuzz(http_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http_request_fuzz.cc DEPS rampart_server)
rampart_fuzz(jwt SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jwt_fuzz.cc DEPS rampart_crypto)
rampart_fuzz(redact SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/redact_fuzz.cc DEPS rampart_redact)
rampart_fuzz(url SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/url_fuzz.cc DEPS rampart_net)
