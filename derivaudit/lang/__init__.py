"""The formula language: untrusted text to sympy, by a whitelisted walk over Python's syntax tree.

Modules by job: ``source`` (raw checks, columns, Python's parser), ``rules``
(identifiers, numbers, constants, powers, arity), ``walker`` (the scalar
walk), ``functions`` (the scalar function table, ``Step``, switching
points), ``printer`` (sympy back to text), ``parse`` (the entry points), and
the array language in NumPy's syntax: ``arrays`` (values, broadcasting,
reductions, comparisons), ``array_ops`` (einsum and matmul, structure,
indexing), ``array_functions`` (its function table), ``array_args``
(binding a call's arguments), ``array_walker`` (its walk).
"""
