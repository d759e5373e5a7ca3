"""Preprocessing: images (``zoo.feature.image``) and text (``zoo.feature.text``), locally or on Spark."""
