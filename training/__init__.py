"""Training: load last year's assignments, fit, calibrate, evaluate and write a model bundle."""
