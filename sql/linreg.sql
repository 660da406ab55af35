-- ml_linreg_fit: exact fits, ridge against closed forms, NULL handling,
-- GROUP BY, and every kind of bad input.

-- y = 1 + 2a - 3b exactly: OLS recovers the coefficients.
CREATE TABLE exact AS
  SELECT i, (i % 7)::float8 AS a, ((i * 3) % 11)::float8 AS b,
         1 + 2 * (i % 7) - 3 * ((i * 3) % 11)::float8 AS y
    FROM generate_series(1, 200) i;
SELECT round((info->>'intercept')::numeric, 8) AS intercept,
       round((info->'coefficients'->>0)::numeric, 8) AS a,
       round((info->'coefficients'->>1)::numeric, 8) AS b,
       info->'n_rows' AS n_rows, jsonb_path_query_array(info, '$.inputs[*].name') AS inputs
  FROM (SELECT ml_model_info(ml_linreg_fit(y, ARRAY[a, b])) AS info FROM exact) s;

-- Names for the features and the target.
SELECT jsonb_pretty(ml_model_info(ml_linreg_fit(y, ARRAY[a, b], '{"features": ["a", "b"], "target": "y"}'))
       - '{intercept,coefficients,checksum,std_errors,t_values,p_values}'::text[]
       #- '{inputs,0,stats}' #- '{inputs,1,stats}')
  FROM exact;

-- One feature: OLS and ridge against core's regr_* aggregates (closed form
-- b = Sxy / (Sxx + l2), intercept = mean(y) - b mean(x)).
CREATE TABLE noisy AS
  SELECT i, (i % 13) * 0.5 + sin(i) AS x, 3 - 0.7 * ((i % 13) * 0.5) + cos(i * 7) AS y
    FROM generate_series(1, 500) i;
SELECT l2,
       abs((m->'coefficients'->>0)::float8 - sxy / (sxx + l2)) < 1e-12 AS coef_ok,
       abs((m->>'intercept')::float8 - (ay - sxy / (sxx + l2) * ax)) < 1e-12 AS intercept_ok
  FROM (VALUES (0), (1), (250)) AS p(l2),
       LATERAL (SELECT ml_model_info(ml_linreg_fit(y, ARRAY[x], jsonb_build_object('l2', l2))) AS m,
                       regr_sxy(y, x) AS sxy, regr_sxx(y, x) AS sxx, avg(x) AS ax, avg(y) AS ay
                  FROM noisy) s;
-- OLS slope equals regr_slope.
SELECT abs((ml_model_info(ml_linreg_fit(y, ARRAY[x]))->'coefficients'->>0)::float8
           - regr_slope(y, x)) < 1e-12 AS slope_ok
  FROM noisy;
-- Without intercept: b = sum(xy) / (sum(xx) + l2).
SELECT l2, abs((m->'coefficients'->>0)::float8 - sxy / (sxx + l2)) < 1e-12 AS coef_ok,
       m->'intercept' AS intercept
  FROM (VALUES (0), (10)) AS p(l2),
       LATERAL (SELECT ml_model_info(ml_linreg_fit(y, ARRAY[x],
                         jsonb_build_object('l2', l2, 'intercept', false))) AS m,
                       sum(x * y) AS sxy, sum(x * x) AS sxx FROM noisy) s;

-- Standard errors of least squares against the closed form of simple
-- regression (core's regr_* aggregates): se(slope) = sqrt(s2 / Sxx),
-- se(intercept) = sqrt(s2 (1/n + mean(x)^2 / Sxx)), s2 = SSE / (n - 2).
SELECT abs((m->'std_errors'->>1)::float8 - sqrt(s2 / sxx)) < 1e-12 AS se_slope_ok,
       abs((m->'std_errors'->>0)::float8 - sqrt(s2 * (1.0 / n + ax * ax / sxx))) < 1e-12 AS se_intercept_ok,
       abs((m->'t_values'->>1)::float8 - (m->'coefficients'->>0)::float8 / sqrt(s2 / sxx)) < 1e-9 AS t_ok,
       (m->'p_values'->>1)::float8 < 1e-10 AS slope_significant,
       jsonb_array_length(m->'p_values') AS n_p_values
  FROM (SELECT ml_model_info(ml_linreg_fit(y, ARRAY[x])) AS m,
               (regr_syy(y, x) - regr_sxy(y, x) ^ 2 / regr_sxx(y, x)) / (count(*) - 2) AS s2,
               regr_sxx(y, x) AS sxx, count(*) AS n, avg(x) AS ax
          FROM noisy) s;
-- Penalised fits have no standard errors.
SELECT ml_model_info(ml_linreg_fit(y, ARRAY[x], '{"l2": 1}')) ? 'std_errors' AS ridge_has_se FROM noisy;

-- Lasso: with one centred feature the solution is the soft-thresholded OLS
-- slope, b = sign(Sxy) max(|Sxy| - l1, 0) / Sxx; elastic net divides by Sxx + l2.
SELECT l1, l2, abs((m->'coefficients'->>0)::float8
                   - sign(sxy) * greatest(abs(sxy) - l1, 0) / (sxx + l2)) < 1e-12 AS coef_ok
  FROM (VALUES (1, 0), (50, 0), (50, 10), (1e6, 0)) AS p(l1, l2),
       LATERAL (SELECT ml_model_info(ml_linreg_fit(y, ARRAY[x], jsonb_build_object('l1', l1, 'l2', l2))) AS m,
                       regr_sxy(y, x) AS sxy, regr_sxx(y, x) AS sxx FROM noisy) s;
-- Lasso sets weak coefficients exactly to zero and tolerates collinear features.
SELECT ml_model_info(ml_linreg_fit(y, ARRAY[x, x, sin(i * 3)], '{"l1": 200}'))->'coefficients'->2 AS noise_coef
  FROM noisy;

-- Training statistics: mean, sample standard deviation and extremes of each feature.
SELECT abs((m #>> '{inputs,0,stats,mean}')::float8 - ax) < 1e-12 AS mean_ok,
       abs((m #>> '{inputs,0,stats,stddev}')::float8 - sx) < 1e-12 AS stddev_ok,
       (m #>> '{inputs,0,stats,min}')::float8 = lo AS min_ok,
       (m #>> '{inputs,0,stats,max}')::float8 = hi AS max_ok
  FROM (SELECT ml_model_info(ml_linreg_fit(y, ARRAY[x])) AS m, avg(x) AS ax, stddev_samp(x) AS sx,
               min(x) AS lo, max(x) AS hi
          FROM noisy) s;

-- Data far from zero: centring keeps full accuracy (raw sums of squares would not).
SELECT round((m->'coefficients'->>0)::numeric, 6) AS slope,
       round((m->>'intercept')::numeric, 1) AS intercept
  FROM (SELECT ml_model_info(ml_linreg_fit(5 + 2 * (1e9 + x), ARRAY[1e9 + x])) AS m FROM noisy) s;

-- NULL targets are skipped; no rows (or only NULL targets) give NULL.
SELECT ml_model_info(ml_linreg_fit(CASE WHEN i % 2 = 0 THEN y END, ARRAY[a, b]))->'n_rows'
  FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b]) IS NULL AS no_rows FROM exact WHERE false;
SELECT ml_linreg_fit(NULL::float8, ARRAY[a, b]) IS NULL AS null_targets FROM exact;

-- GROUP BY trains one model per group.
SELECT i % 3 AS g, (ml_model_info(ml_linreg_fit(y, ARRAY[a, b]))->>'n_rows')::int AS n,
       round((ml_model_info(ml_linreg_fit(y, ARRAY[a, b]))->'coefficients'->>0)::numeric, 8) AS a
  FROM exact GROUP BY 1 ORDER BY 1;

-- Ridge makes collinear and constant features solvable.
SELECT round((ml_model_info(ml_linreg_fit(y, ARRAY[a, a], '{"l2": 1}'))->'coefficients'->>0)::numeric, 6)
       = round((ml_model_info(ml_linreg_fit(y, ARRAY[a, a], '{"l2": 1}'))->'coefficients'->>1)::numeric, 6)
       AS symmetric
  FROM exact;
SELECT ml_model_info(ml_linreg_fit(y, ARRAY[a, 4], '{"l2": 1}'))->'coefficients'->1 AS constant_coef
  FROM exact;

-- Bad input: clear errors.
SELECT ml_linreg_fit(y, ARRAY[a, 2 * a + b, b]) FROM exact;     -- collinear
SELECT ml_linreg_fit(y, ARRAY[a, 0.1]) FROM exact;              -- constant
SELECT ml_linreg_fit(y, ARRAY[a, b]) FROM exact WHERE i < 3;    -- too few rows
SELECT ml_linreg_fit(y, CASE WHEN i = 5 THEN ARRAY[a, NULL] ELSE ARRAY[a, b] END,
                     '{"features": ["a", "b"]}') FROM exact;
SELECT ml_linreg_fit(y, CASE WHEN i = 5 THEN NULL ELSE ARRAY[a, b] END) FROM exact;
SELECT ml_linreg_fit(y, CASE WHEN i = 5 THEN ARRAY[a, 'NaN'] ELSE ARRAY[a, b] END) FROM exact;
SELECT ml_linreg_fit(y, CASE WHEN i = 5 THEN ARRAY[a, '-Infinity'] ELSE ARRAY[a, b] END) FROM exact;
SELECT ml_linreg_fit(CASE WHEN i = 5 THEN 'Infinity' ELSE y END, ARRAY[a, b]) FROM exact;
SELECT ml_linreg_fit(y, CASE WHEN i = 5 THEN ARRAY[a] ELSE ARRAY[a, b] END) FROM exact;
SELECT ml_linreg_fit(y, ARRAY[]::float8[]) FROM exact;
SELECT ml_linreg_fit(y, ARRAY[[a, b], [a, b]]) FROM exact;
SELECT ml_linreg_fit(y, array_fill(a, ARRAY[1001])) FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], '{"l2": -1}') FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], '{"l1": "NaN"}') FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], '{"l2": "big"}') FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], '{"lambda": 1}') FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], '[1]') FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], '{"features": ["a"]}') FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], '{"features": ["a", "a"]}') FROM exact;
SELECT ml_linreg_fit(y, ARRAY[a, b], jsonb_build_object('l2', i % 2)) FROM exact;

DROP TABLE exact, noisy;
