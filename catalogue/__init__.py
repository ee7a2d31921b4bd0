"""The catalogue: regions, countries, bundles, price rules, pricing, catalogue sync."""
