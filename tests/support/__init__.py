"""Helpers shared by the test suite: clusters, databases, protocol builders."""
