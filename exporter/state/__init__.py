"""Pure state: fleet, sites, relay legs and counters. No I/O, no network library, callers pass
`now`.
"""
