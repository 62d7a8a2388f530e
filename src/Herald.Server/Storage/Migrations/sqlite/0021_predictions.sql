-- SQLite twin of postgres/0021_predictions.sql.
-- Predictive scores (R-SEG-5): per app and model (churn, purchase, optout), the fitted logistic
-- regression with its held-out AUC, and every device's score (its person's: a user's devices share one).
CREATE TABLE prediction_models (
    app_id        bigint NOT NULL,
    model         text NOT NULL,           -- churn | purchase | optout
    trained_at    bigint,
    status        text NOT NULL,           -- pending | ok | insufficient
    detail        text,                    -- why a model could not be trained
    definition    text,                    -- JSON: features, weights, intercept, standardisation, quality
    scores        blob,                    -- float32 little-endian per device ordinal; NaN: no score
    lease_until   bigint,
    created_at    bigint NOT NULL,
    PRIMARY KEY (app_id, model)
);
