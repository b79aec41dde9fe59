"""Activation: does a skill trigger when it should, and only then?"""
