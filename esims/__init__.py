"""History only: the migrations of the app that held the catalogue until it became
`catalogue`. Its tables (`esims_*`) and their rows now belong to the catalogue app
(catalogue 0001, esims 0005, state only) and keep their names.

Other apps' migrations depend on these, so the app stays installed with no models and no
code. Remove it when every database has migrated past esims 0005 and the migrations
that depend on it are squashed.
"""
