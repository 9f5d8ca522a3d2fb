# Small network clients the integration tests use (DNS, SNTP, X.509 reading,
# non-blocking connect). Each is imported only inside the test that needs it.
