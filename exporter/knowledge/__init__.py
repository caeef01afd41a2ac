"""What the product knows about error codes and notifications: the catalog (text lives only in its
YAML).
"""
