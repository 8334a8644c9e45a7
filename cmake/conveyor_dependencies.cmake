# Finds the Debian packages conveyor builds with (scripts/setup.sh installs them).
# CAF 0.17.6 ships no CMake config or pkg-config file, so its libraries are found by hand.
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 CONFIG QUIET)

find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
find_library(CAF_OPENSSL_LIBRARY caf_openssl REQUIRED)
add_library(caf_libs INTERFACE)
target_include_directories(caf_libs SYSTEM INTERFACE ${CAF_INCLUDE_DIR})
target_link_libraries(caf_libs INTERFACE ${CAF_OPENSSL_LIBRARY} ${CAF_IO_LIBRARY}
  ${CAF_CORE_LIBRARY} Threads::Threads)

# toml++ (cluster files), used header-only.
find_path(TOMLPP_INCLUDE_DIR toml++/toml.h REQUIRED)
add_library(tomlplusplus_headers INTERFACE)
target_include_directories(tomlplusplus_headers SYSTEM INTERFACE ${TOMLPP_INCLUDE_DIR})

find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
add_library(cli11_headers INTERFACE)
target_include_directories(cli11_headers SYSTEM INTERFACE ${CLI11_INCLUDE_DIR})
