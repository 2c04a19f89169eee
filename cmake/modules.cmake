# Modules beyond the foundation. Order follows dependencies.
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(ARCHIVE REQUIRED IMPORTED_TARGET libarchive)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)    # the postgresql storage backend
pkg_check_modules(GSL REQUIRED IMPORTED_TARGET gsl)
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)  # HMAC-SHA256 of the webhooks' signatures

rk_module(exec rk_base)                                 # child processes: spawn, supervise, stop
rk_module(sysinfo rk_model ${CMAKE_DL_LIBS} m)          # hardware and OS detection
rk_module(bench rk_sysinfo ${CMAKE_DL_LIBS} m)          # built-in benchmarks (OpenBLAS dlopen'ed)
rk_module(llm rk_model m ${CMAKE_DL_LIBS})                              # the LLM serving load generator (in a job's child)
# the agent's logic; libarchive and libcurl are dlopen'ed in short-lived children
rk_module(agent rk_http rk_exec rk_sysinfo rk_bench rk_llm rk_isolate ${CMAKE_DL_LIBS})
rk_module(store rk_model PkgConfig::SQLITE PkgConfig::LIBPQ) # storage backends
rk_module(compare rk_model PkgConfig::GSL m)            # comparisons of results: Welch's t-test, verdicts
rk_module(server rk_http rk_store rk_compare PkgConfig::NETTLE) # the server's logic
include(${CMAKE_SOURCE_DIR}/cmake/embed.cmake)
rk_embed_web(rk_server ${CMAKE_SOURCE_DIR}/web)       # the dashboard, served by the server
# the OpenAPI documents, served as GET /api/v1/openapi.json
rk_embed_file(rk_server ${CMAKE_SOURCE_DIR}/docs/openapi/server.json rk_openapi_server)
rk_embed_file(rk_agent ${CMAKE_SOURCE_DIR}/docs/openapi/agent.json rk_openapi_agent)
rk_module(cli rk_http)                                  # the CLI's logic
# job isolation: cgroups, the bwrap sandbox, images (libarchive dlopen'ed in a child)
rk_module(isolate rk_base rk_exec PkgConfig::JANSSON ${CMAKE_DL_LIBS})
set_property(GLOBAL APPEND PROPERTY RK_EXTRA_MODULES
  rk_exec rk_sysinfo rk_bench rk_llm rk_agent rk_store rk_compare rk_server rk_cli rk_isolate)
