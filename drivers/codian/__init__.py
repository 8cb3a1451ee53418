"""Cisco TelePresence MCU (ex-Codian) Remote Management API over XML-RPC."""
