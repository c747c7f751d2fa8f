"""Audiences: event tables, bags, balanced user vectors, look-alikes, the segment map."""
