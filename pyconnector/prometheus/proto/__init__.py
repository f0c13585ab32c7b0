"""Generated protobuf modules; the .proto sources sit beside them (regenerate with `make proto`)."""
