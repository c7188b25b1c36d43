"""Tests of adapter/bpv/: checking a school's placement export against WL 2.0."""
