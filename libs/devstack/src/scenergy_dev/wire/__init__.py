"""Local servers that speak the wire formats of outside services (Gemini, S3), for tests, benchmarks and the embedded run."""
