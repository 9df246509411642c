"""Programme finance and governance: decisions and their approved envelopes by financial
year, spend (commitments and actuals), variance, the handset refresh forecast, approval
thresholds, and the investment board's monitoring report."""
