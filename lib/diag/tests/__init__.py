# One module per test; its file name is its testId. See README "Writing a test".
