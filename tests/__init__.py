"""The test suite, a package so that tests.support imports the same from test modules, conftest.py and bench/.

Its folders mirror adapter/ (a test lives where the code it tests lives); e2e/ holds what crosses stages.
"""
