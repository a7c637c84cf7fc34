import os

# TensorFlow's start-up chatter (CUDA probes, oneDNN notes) is noise in test logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
