package main

// clickday runs the whole click day on the local stack.
func clickday(c config, root, tmp string) ([]string, error) { return nil, nil }
