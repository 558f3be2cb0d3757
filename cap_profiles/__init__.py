"""Built-in CAP validation profiles (YAML data, read by ``router.profiles``)."""
