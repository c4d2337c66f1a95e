"""The formula language: untrusted text to sympy, by a whitelisted walk over Python's syntax tree.

Modules by job: ``source`` (raw checks, columns, Python's parser), ``rules``
(identifiers, numbers, constants, powers, arity), ``walker`` (the scalar
walk), ``functions`` (the function table), ``printer`` (sympy back to
text), ``parse`` (the entry points), and the array language: ``arrays``
(values with NumPy's semantics), ``array_functions`` (its function table),
``array_walker`` (its walk).
"""
