"""The simple, non-neural model that competes with transfer: logistic regression on small grey
pixels (images) or TF-IDF word counts (text). Transfer does not always pay (negative transfer);
when it does not, this model is measured, can be kept, and saves like any other."""
