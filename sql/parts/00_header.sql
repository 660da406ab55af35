-- mlsys 0.1.0: the mlmodel type, linear regression training, the model
-- registry (schema ml) and ml_predict.
\echo Use "CREATE EXTENSION mlsys" to load this file. \quit

