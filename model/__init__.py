"""Rawan's model core: taxonomy, text windows, the ONNX runtime and the region tagger. Imports without torch."""

from model.runtime import Classifier, Prediction, load_classifier
from model.taxonomy import Taxonomy

__all__ = ["Taxonomy", "Classifier", "Prediction", "load_classifier"]
