"""The vault: data subjects and their encrypted fields. The only package that decrypts them."""
