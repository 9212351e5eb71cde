"""The exchange client: QFEX's wire protocol, the authenticated session, pacing and reconnection."""
