-- k-means clustering: k-means++ or given initial centres, Lloyd passes,
-- clusters predicted from rows or arrays.

CREATE TABLE points AS
  SELECT i, (i % 3) * 5 + sin(i) AS a, (i % 3) * -3 + cos(i * 7) AS b,
         (ARRAY['x', 'y'])[1 + i % 2] AS tag
    FROM generate_series(1, 600) i;

-- Three well separated groups: every group lands in one cluster.
SELECT model_name, version, metrics ?& ARRAY['inertia', 'mean_squared_distance'] AS has_metrics
  FROM ml_train('groups', 'kmeans', 'points', NULL, ARRAY['a', 'b'], '{"k": 3}');
SELECT i % 3 AS grp, count(DISTINCT ml_predict('groups', p)) AS clusters, count(*) AS n
  FROM points p GROUP BY 1 ORDER BY 1;
SELECT count(DISTINCT ml_predict('groups', p)) AS distinct_clusters FROM points p;
-- ml_evaluate needs no target for k-means: inertia is the sum of squared
-- distances to the nearest centre, here computed in SQL.
SELECT (e->>'n')::int AS n,
       abs((e->>'inertia')::float8 - (SELECT sum(d) FROM (
         SELECT min(((c->>0)::float8 - a) ^ 2 + ((c->>1)::float8 - b) ^ 2) AS d
           FROM points p, jsonb_array_elements(ml_model_info(ml_model('groups'))->'centroids') c
          GROUP BY p.i) s)) < 1e-9 * (e->>'inertia')::float8 AS inertia_ok
  FROM (SELECT ml_evaluate('groups', 'points') AS e) s;
SELECT v.params->'k' AS k, v.params->'init' AS init, (v.training_info->>'iterations')::int < 10 AS few_iterations,
       jsonb_array_length(ml_model_info(v.model)->'centroids') AS centroids
  FROM ml.model_versions v JOIN ml.models m USING (model_id) WHERE m.name = 'groups';

-- Given initial centres: Lloyd's algorithm by hand in SQL gives the same
-- centres after the same number of iterations (here, until nothing moves).
SELECT model_name FROM ml_train('given', 'kmeans', 'points', NULL, ARRAY['a', 'b'],
                                '{"k": 2, "init": [[0, 0], [1, 1]], "tol": 1e-12}', 0);
WITH RECURSIVE lloyd(step, c0a, c0b, c1a, c1b) AS (
  SELECT 0, 0::float8, 0::float8, 1::float8, 1::float8
  UNION ALL
  SELECT step + 1,
         avg(a) FILTER (WHERE near = 0), avg(b) FILTER (WHERE near = 0),
         avg(a) FILTER (WHERE near = 1), avg(b) FILTER (WHERE near = 1)
    FROM (SELECT l.*, p.a, p.b,
                 CASE WHEN (p.a - c0a) ^ 2 + (p.b - c0b) ^ 2 <= (p.a - c1a) ^ 2 + (p.b - c1b) ^ 2
                      THEN 0 ELSE 1 END AS near
            FROM lloyd l, points p WHERE l.step < 20) s
   GROUP BY step)
SELECT bool_and(abs(((ml_model_info(ml_model('given'))->'centroids'->(k / 2))->>(k % 2))::float8
                    - (ARRAY[c0a, c0b, c1a, c1b])[k + 1]) < 1e-9) AS same_centres
  FROM (SELECT * FROM lloyd ORDER BY step DESC LIMIT 1) last, generate_series(0, 3) k;

-- Categorical inputs and scaling work as for every model; predicting
-- from an array needs numeric inputs only.
SELECT model_name FROM ml_train('tagged', 'kmeans', 'points', NULL, ARRAY['a', 'b', 'tag'],
                                '{"k": 2, "scale": "standard"}');
SELECT array_length(ml_transform('tagged', p), 1) AS design_width FROM points p LIMIT 1;
SELECT ml_predict('groups', ARRAY[10.0, -6.0]) = ml_predict('groups', p) AS array_matches_row
  FROM points p WHERE i = 2;

-- Errors.
SELECT * FROM ml_train('x', 'kmeans', 'points', 'a', ARRAY['b'], '{"k": 2}');
SELECT * FROM ml_train('x', 'kmeans', 'points', NULL, ARRAY['b'], '{}');
SELECT * FROM ml_train('x', 'kmeans', 'points', NULL, ARRAY['b'], '{"k": 0}');
SELECT * FROM ml_train('x', 'kmeans', 'points', NULL, ARRAY['b'], '{"k": 2, "init": [[1]]}');
SELECT * FROM ml_train('x', 'kmeans', 'points', NULL, ARRAY['b'], '{"k": 2, "init": [[1], [2, 3]]}');
SELECT * FROM ml_train('x', 'kmeans', 'points', NULL, ARRAY['b'], '{"k": 2, "cv": 3}');
SELECT * FROM ml_train('x', 'kmeans', 'SELECT 1.0 AS a FROM generate_series(1, 10)', NULL, NULL, '{"k": 2}');
SELECT * FROM ml_train('x', 'linear', 'points', NULL, ARRAY['b']);
SELECT ml_predict_proba('groups', ARRAY[1.0, 2.0]);
SELECT ml_predict_class('groups', ARRAY[1.0, 2.0]);
SELECT ml_kmeans_pass(array_fill(0.0::float8, ARRAY[1001]), array_fill(0.0::float8, ARRAY[1001]));

DROP TABLE points;
DELETE FROM ml.models;
