"""Mail delivery against real SMTP servers on loopback (aiosmtpd), with the real outbox worker."""
