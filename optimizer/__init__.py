"""cvo: decide which marketing campaign each customer should get."""
