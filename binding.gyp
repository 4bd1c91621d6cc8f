{
  "targets": [
    {
      "target_name": "vnf_native",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/netns.cc",
        "native/object.cc",
        "native/map.cc",
        "native/map_keys.cc",
        "native/program.cc",
        "native/link.cc",
        "native/tc.cc",
        "native/btf.cc",
        "native/lock.cc",
        "native/ringbuf.cc",
        "native/faults.cc",
        "native/probe.cc",
        "native/boundary.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"],
      "cflags": ["<!@(pkg-config --cflags libbpf)", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wno-missing-field-initializers"],
      "libraries": ["<!@(pkg-config --libs libbpf)"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
