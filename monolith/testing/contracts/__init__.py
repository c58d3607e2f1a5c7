"""Contract suites: subclass one and provide its factory fixture to test an adapter."""
