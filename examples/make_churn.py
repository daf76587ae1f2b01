"""Writes examples/churn.csv: a small, made-up customer-churn table for trying automl.

It has what real tables have: numbers, strings, a boolean, a column with many
categories and missing values. Run ``python examples/make_churn.py`` to make it again.
"""

from pathlib import Path

import numpy as np
import pandas as pd

N_ROWS = 1200


def make_churn(n_rows: int = N_ROWS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n_rows)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n_rows, p=[0.55, 0.25, 0.2])
    internet = rng.choice(["dsl", "fiber", "none"], n_rows, p=[0.35, 0.45, 0.2])
    payment = rng.choice(["card", "bank transfer", "electronic check", "mailed check"], n_rows)
    senior = rng.random(n_rows) < 0.16
    calls = rng.poisson(1.5, n_rows)
    charges = np.round(
        20 + 45 * (internet == "fiber") + 25 * (internet == "dsl") + rng.normal(0, 8, n_rows), 2
    )
    city = rng.choice([f"city_{i:02d}" for i in range(40)], n_rows)
    logit = (
        -1.0
        - 0.05 * tenure
        + 1.6 * (contract == "month-to-month")
        + 0.8 * (internet == "fiber")
        + 0.6 * (payment == "electronic check")
        + 0.5 * senior
        + 0.45 * calls
        + 0.015 * (charges - 60)
    )
    churned = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "contract": contract,
            "internet": internet,
            "payment_method": payment,
            "senior": senior,
            "support_calls": calls,
            "city": city,
            "churned": np.where(churned, "yes", "no"),
        }
    )
    frame.loc[rng.random(n_rows) < 0.05, "monthly_charges"] = np.nan
    frame.loc[rng.random(n_rows) < 0.04, "payment_method"] = np.nan
    return frame


if __name__ == "__main__":
    make_churn().to_csv(Path(__file__).with_name("churn.csv"), index=False)
