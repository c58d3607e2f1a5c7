"""Pure logic: values in, values or decisions out. No I/O, clocks, threads or env."""
