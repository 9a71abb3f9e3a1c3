"""A stand-in for Colab's `google.colab` package: its presence is all the chapters test."""
