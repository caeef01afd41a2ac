"""Security primitives: password hashes, TLS contexts, Basic auth on the web listener."""
